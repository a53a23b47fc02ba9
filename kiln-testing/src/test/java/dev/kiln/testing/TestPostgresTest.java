package dev.kiln.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The test server itself: a real PostgreSQL, not run as root, with password logins only. */
@Timeout(120)
class TestPostgresTest {
    @Test
    void givesEachCallerItsOwnDatabaseAsANonSuperuser() throws Exception {
        try (TestDatabase a = TestPostgres.shared().newDatabase("a"); TestDatabase b = TestPostgres.shared().newDatabase("a")) {
            assertThat(a.name()).isNotEqualTo(b.name());
            try (Connection c = a.connect(); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT current_database(), current_user, "
                         + "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user), version()")) {
                rs.next();
                assertThat(rs.getString(1)).isEqualTo(a.name());
                assertThat(rs.getString(2)).isEqualTo(a.user());
                assertThat(rs.getBoolean(3)).isFalse();
                assertThat(rs.getString(4)).startsWith("PostgreSQL");
            }
            try (Connection c = a.connect(); Statement s = c.createStatement()) {
                s.execute("CREATE TABLE t (x int)");
            }
            a.reset();
            try (Connection c = a.connect(); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT count(*) FROM pg_tables WHERE tablename = 't'")) {
                rs.next();
                assertThat(rs.getInt(1)).isZero();
            }
        }
    }

    @Test
    void refusesAWrongPassword() {
        TestDatabase db = TestPostgres.shared().newDatabase("pw");
        assertThatThrownBy(() -> DriverManager.getConnection(TestPostgres.shared().jdbcUrl(db.name()), db.user(),
                "wrong")).hasMessageContaining("password authentication failed");
    }

    @Test
    void serverProcessIsNotRoot() throws Exception {
        try (Connection c = TestPostgres.shared().admin(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT pg_backend_pid()")) {
            rs.next();
            int pid = rs.getInt(1);
            int uid = (Integer) java.nio.file.Files.getAttribute(java.nio.file.Path.of("/proc/" + pid), "unix:uid");
            assertThat(uid).isNotZero();
        }
    }
}
