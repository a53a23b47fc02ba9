package dev.kiln.store;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.postgresql.PGProperty;

/**
 * Where Kiln keeps its jobs, job types and artifacts: the {@code store} setting, parsed. Empty (or {@code sqlite})
 * means SQLite in the data directory; {@code postgresql://USER:PASSWORD@HOST[:PORT]/DATABASE[?PARAM=VALUE&...]} (or {@code postgres://})
 * means that PostgreSQL database, with pgjdbc connection properties as parameters (e.g. {@code sslmode=require}).
 * Neither {@link #toString} nor any error message shows the password.
 */
public sealed interface StoreLocation permits StoreLocation.Sqlite, StoreLocation.Postgres {
    StoreLocation SQLITE = new Sqlite();

    /** What the setting may be, for error messages. */
    String EXPECTED = "expected postgresql://USER:PASSWORD@HOST[:PORT]/DATABASE[?PARAMETER=VALUE&...] "
            + "(user name and password percent-encoded), or sqlite (or nothing) for SQLite in the data directory";

    /**
     * @param setting null, blank or {@code sqlite} for SQLite
     * @throws IllegalArgumentException saying what is wrong and what is expected, without the password
     */
    static StoreLocation parse(String setting) {
        if (setting == null || setting.isBlank() || setting.strip().equalsIgnoreCase("sqlite")) return SQLITE;
        return Postgres.parse(setting.strip());
    }

    /** Whether the store lives in the data directory (so the data directory holds the database and artifacts). */
    default boolean inDataDirectory() {
        return this instanceof Sqlite;
    }

    /** SQLite: {@code kiln.db} and {@code artifacts/} in the data directory. */
    record Sqlite() implements StoreLocation {
        @Override
        public String toString() {
            return "sqlite (in the data directory)";
        }
    }

    /** A PostgreSQL database; {@code parameters} are pgjdbc connection properties. */
    record Postgres(String host, int port, String database, String user, String password,
                    Map<String, String> parameters) implements StoreLocation {
        public static final int DEFAULT_PORT = 5432;
        private static final Pattern HOST = Pattern.compile("[A-Za-z0-9._-]+|\\[[0-9A-Fa-f:.]+]");
        // Given by the URL itself; as parameters they would contradict it.
        private static final Set<String> IN_URL = Set.of("user", "password", "PGHOST", "PGPORT", "PGDBNAME");

        public Postgres {
            parameters = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(parameters)); // in the given order
        }

        static Postgres parse(String url) {
            int schemeEnd = url.indexOf("://");
            String scheme = schemeEnd < 0 ? "" : url.substring(0, schemeEnd);
            if (!scheme.equals("postgresql") && !scheme.equals("postgres")) {
                throw invalid("it must start with postgresql:// (or postgres://)");
            }
            String rest = url.substring(schemeEnd + 3);
            if (rest.indexOf('#') >= 0) throw invalid("'#' must be percent-encoded (%23)");
            int queryStart = rest.indexOf('?');
            String query = queryStart < 0 ? "" : rest.substring(queryStart + 1);
            String beforeQuery = queryStart < 0 ? rest : rest.substring(0, queryStart);
            // The last '@' ends the user info, so an unencoded '@' or '/' in the password still parses.
            int at = beforeQuery.lastIndexOf('@');
            if (at < 0) throw invalid("the user name is missing");
            String userInfo = beforeQuery.substring(0, at);
            int colon = userInfo.indexOf(':');
            String user = decode(colon < 0 ? userInfo : userInfo.substring(0, colon), "user name");
            String password = colon < 0 ? null : decode(userInfo.substring(colon + 1), "password");
            if (user.isEmpty()) throw invalid("the user name is missing");
            String hostAndPath = beforeQuery.substring(at + 1);
            int slash = hostAndPath.indexOf('/');
            if (slash < 0) throw invalid("the database name is missing");
            String database = decode(hostAndPath.substring(slash + 1), "database name");
            if (database.isEmpty() || database.contains("/")) throw invalid("the database name is missing");
            String hostPort = hostAndPath.substring(0, slash);
            int portColon = hostPort.lastIndexOf(':');
            if (portColon >= 0 && hostPort.lastIndexOf(']') > portColon) portColon = -1; // inside [ipv6]
            String host = portColon < 0 ? hostPort : hostPort.substring(0, portColon);
            if (!HOST.matcher(host).matches()) throw invalid("the host is missing or not a host name or address");
            int port = portColon < 0 ? DEFAULT_PORT : port(hostPort.substring(portColon + 1));
            if (host.startsWith("[")) host = host.substring(1, host.length() - 1);
            return new Postgres(host, port, database, user, password, parameters(query));
        }

        /** {@code jdbc:postgresql://host:port/database}, without credentials or parameters. */
        public String jdbcUrl() {
            String h = host.contains(":") ? "[" + host + "]" : host;
            return "jdbc:postgresql://" + h + ":" + port + "/" + database;
        }

        /** The URL with the password (and every parameter value, which may be one) masked. */
        @Override
        public String toString() {
            StringBuilder s = new StringBuilder("postgresql://").append(user);
            if (password != null) s.append(":****");
            s.append('@').append(host.contains(":") ? "[" + host + "]" : host).append(':').append(port)
                    .append('/').append(database);
            String sep = "?";
            for (String key : parameters.keySet()) {
                s.append(sep).append(key).append("=****");
                sep = "&";
            }
            return s.toString();
        }

        private static int port(String text) {
            if (text.matches("[0-9]{1,5}")) {
                int port = Integer.parseInt(text);
                if (port >= 1 && port <= 65535) return port;
            }
            throw invalid("the port must be a number from 1 to 65535");
        }

        private static Map<String, String> parameters(String query) {
            Map<String, String> params = new LinkedHashMap<>();
            if (query.isEmpty()) return params;
            for (String pair : query.split("&", -1)) {
                int eq = pair.indexOf('=');
                String key = decode(eq < 0 ? pair : pair.substring(0, eq), "parameter name");
                if (eq < 0 || key.isEmpty()) throw invalid("parameters must look like name=value");
                if (PGProperty.forName(key) == null || IN_URL.contains(key)) {
                    throw invalid("'" + key + "' is not a PostgreSQL JDBC connection parameter "
                            + "(e.g. sslmode, connectTimeout, ApplicationName)");
                }
                params.put(key, decode(pair.substring(eq + 1), "value of " + key));
            }
            return params;
        }

        /** Percent-decoding as in a URL's user info and path ('+' stays '+'). */
        private static String decode(String text, String what) {
            StringBuilder out = new StringBuilder();
            ByteArrayOutputStream escaped = new ByteArrayOutputStream(); // a run of %XX: UTF-8 bytes
            for (int i = 0; i < text.length(); i++) {
                char c = text.charAt(i);
                if (c != '%') {
                    out.append(escaped.toString(StandardCharsets.UTF_8)).append(c);
                    escaped.reset();
                    continue;
                }
                if (i + 2 >= text.length() || Character.digit(text.charAt(i + 1), 16) < 0
                        || Character.digit(text.charAt(i + 2), 16) < 0) {
                    throw invalid("the " + what + " has a '%' not followed by two hex digits");
                }
                escaped.write(Integer.parseInt(text, i + 1, i + 3, 16));
                i += 2;
            }
            return out.append(escaped.toString(StandardCharsets.UTF_8)).toString();
        }

        private static IllegalArgumentException invalid(String why) {
            return new IllegalArgumentException(why + "; " + EXPECTED);
        }
    }
}
