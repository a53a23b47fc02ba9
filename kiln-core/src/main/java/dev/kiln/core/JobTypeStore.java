package dev.kiln.core;

import java.util.List;

/** Durable storage of job types registered at run time (PUT /job-types/{name}, {@link JobTypeRegistry}). */
public interface JobTypeStore {
    JobTypeStore NONE = new JobTypeStore() {
        @Override
        public List<JobType> loadAll() {
            return List.of();
        }

        @Override
        public void save(JobType type) {
        }

        @Override
        public boolean delete(String name) {
            return false;
        }
    };

    List<JobType> loadAll();

    /** Inserts or replaces the type of that name, durably. */
    void save(JobType type);

    boolean delete(String name);
}
