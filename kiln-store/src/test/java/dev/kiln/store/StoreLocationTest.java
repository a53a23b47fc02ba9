package dev.kiln.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

class StoreLocationTest {
    private static StoreLocation.Postgres pg(String url) {
        return (StoreLocation.Postgres) StoreLocation.parse(url);
    }

    @Test
    void nothingMeansSqliteInTheDataDirectory() {
        assertThat(StoreLocation.parse(null)).isEqualTo(StoreLocation.SQLITE);
        assertThat(StoreLocation.parse("  ")).isEqualTo(StoreLocation.SQLITE);
        assertThat(StoreLocation.parse("SQLite")).isEqualTo(StoreLocation.SQLITE);
        assertThat(StoreLocation.SQLITE.inDataDirectory()).isTrue();
    }

    @Test
    void readsEveryPartOfAPostgresUrl() {
        StoreLocation.Postgres p = pg("postgresql://kiln:s3cret@db.example.com:6543/jobs?sslmode=require&connectTimeout=3");
        assertThat(p).isEqualTo(new StoreLocation.Postgres("db.example.com", 6543, "jobs", "kiln", "s3cret",
                Map.of("sslmode", "require", "connectTimeout", "3")));
        assertThat(p.inDataDirectory()).isFalse();
        assertThat(p.jdbcUrl()).isEqualTo("jdbc:postgresql://db.example.com:6543/jobs");
        assertThat(p).hasToString("postgresql://kiln:****@db.example.com:6543/jobs?sslmode=****&connectTimeout=****");
    }

    @Test
    void acceptsPostgresSchemeDefaultPortIpv6AndEncodedCredentials() {
        StoreLocation.Postgres p = pg("postgres://k%40iln:p%40ss%2Fw%3Ard+%E2%9C%93@[::1]/kiln%2Ddb");
        assertThat(p.user()).isEqualTo("k@iln");
        assertThat(p.password()).isEqualTo("p@ss/w:rd+✓");
        assertThat(p.host()).isEqualTo("::1");
        assertThat(p.port()).isEqualTo(StoreLocation.Postgres.DEFAULT_PORT);
        assertThat(p.database()).isEqualTo("kiln-db");
        assertThat(p.jdbcUrl()).isEqualTo("jdbc:postgresql://[::1]:5432/kiln-db");
        assertThat(pg("postgresql://u@h/d").password()).isNull();
        assertThat(pg("postgresql://u@h/d")).hasToString("postgresql://u@h:5432/d");
        // An unencoded '@' or '/' in the password still parses: the last '@' ends the user info.
        assertThat(pg("postgresql://u:a@b/c@h:1/d").password()).isEqualTo("a@b/c");
    }

    @Test
    void malformedUrlsSayWhatIsWrongAndExpectedWithoutThePassword() {
        String[][] cases = {
                {"mysql://u:hunter2@h/d", "it must start with postgresql:// (or postgres://)"},
                {"postgresql://hunter2", "the user name is missing"},
                {"postgresql://:hunter2@h/d", "the user name is missing"},
                {"postgresql://u:hunter2@h", "the database name is missing"},
                {"postgresql://u:hunter2@h:5432/", "the database name is missing"},
                {"postgresql://u:hunter2@:5432/d", "the host is missing"},
                {"postgresql://u:hunter2@h:port/d", "the port must be a number from 1 to 65535"},
                {"postgresql://u:hunter2@h:70000/d", "the port must be a number from 1 to 65535"},
                {"postgresql://u:hun%zzter2@h/d", "the password has a '%' not followed by two hex digits"},
                {"postgresql://u:hunter2#@h/d", "'#' must be percent-encoded"},
                {"postgresql://u:hunter2@h/d?nosuch=1", "'nosuch' is not a PostgreSQL JDBC connection parameter"},
                {"postgresql://u:hunter2@h/d?password=x", "'password' is not a PostgreSQL JDBC connection parameter"},
                {"postgresql://u:hunter2@h/d?sslmode", "parameters must look like name=value"},
        };
        for (String[] c : cases) {
            assertThatThrownBy(() -> StoreLocation.parse(c[0])).as(c[0])
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith(c[1])
                    .hasMessageEndingWith(StoreLocation.EXPECTED)
                    .satisfies(e -> assertThat(e.getMessage()).doesNotContain("hunter2"));
        }
    }
}
