package dev.kiln.core;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The job types an orchestrator knows. Always holds {@code default}, built in when not configured. */
public final class JobTypeCatalog {
    private final Map<String, JobType> types;

    public JobTypeCatalog(Collection<JobType> configured) {
        Map<String, JobType> m = new LinkedHashMap<>();
        m.put(JobSpec.DEFAULT_JOB_TYPE, JobType.defaults(JobSpec.DEFAULT_JOB_TYPE));
        for (JobType t : configured) m.put(t.name(), t); // a configured "default" replaces the built-in one
        this.types = Map.copyOf(m);
    }

    public Optional<JobType> find(String name) {
        return Optional.ofNullable(types.get(name));
    }

    public JobType require(String name) {
        JobType t = types.get(name);
        if (t == null) throw new UnknownJobTypeException(name, names());
        return t;
    }

    public List<String> names() {
        List<String> names = new ArrayList<>(types.keySet());
        names.sort(null);
        return names;
    }

    public List<JobType> all() {
        return names().stream().map(types::get).toList();
    }
}
