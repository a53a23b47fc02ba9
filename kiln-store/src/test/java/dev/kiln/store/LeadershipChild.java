package dev.kiln.store;

/**
 * A replica in a process of its own for {@link PostgresLeadershipTest}: takes the leadership of the store named by
 * {@code KILN_TEST_STORE}, prints {@value #LEADING} once it leads, then waits to be killed.
 */
public final class LeadershipChild {
    static final String LEADING = "LEADING";

    private LeadershipChild() {
    }

    public static void main(String[] args) throws InterruptedException {
        var location = (StoreLocation.Postgres) StoreLocation.parse(System.getenv("KILN_TEST_STORE"));
        PostgresLeadership leadership = PostgresLeadership.open(location);
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (!leadership.isLeader() && System.nanoTime() < deadline) Thread.sleep(20);
        System.out.println(leadership.isLeader() ? LEADING : "NOT LEADING");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
