package dev.kiln.core;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The job types an orchestrator knows: the built-in {@code default}, types defined in the configuration file, and
 * types registered at run time (persisted in a {@link JobTypeStore}). On a name conflict the file wins, and says so.
 */
public final class JobTypeRegistry {
    private static final Logger log = LoggerFactory.getLogger(JobTypeRegistry.class);

    /** Where a type's definition comes from. */
    public enum Source { BUILT_IN, FILE, RUNTIME }

    private final Map<String, JobType> fileTypes;
    private final Map<String, JobType> runtimeTypes = new ConcurrentHashMap<>();
    private final JobTypeStore store;
    private final List<Runnable> listeners = new java.util.concurrent.CopyOnWriteArrayList<>();

    /** Types from the configuration only (no run-time registration persisted). */
    public JobTypeRegistry(Collection<JobType> configured) {
        this(configured, JobTypeStore.NONE);
    }

    public JobTypeRegistry(Collection<JobType> configured, JobTypeStore store) {
        Map<String, JobType> m = new LinkedHashMap<>();
        m.put(JobSpec.DEFAULT_JOB_TYPE, JobType.defaults(JobSpec.DEFAULT_JOB_TYPE));
        for (JobType t : configured) m.put(t.name(), t); // a configured "default" replaces the built-in one
        this.fileTypes = Map.copyOf(m);
        this.store = store;
        for (JobType t : store.loadAll()) {
            if (fileTypes.containsKey(t.name())) {
                log.warn("job type '{}' registered at run time is shadowed by the one defined in the configuration "
                        + "file (file-defined types win)", t.name());
            } else {
                runtimeTypes.put(t.name(), t);
            }
        }
    }

    public Optional<JobType> find(String name) {
        JobType t = fileTypes.get(name);
        return Optional.ofNullable(t != null ? t : runtimeTypes.get(name));
    }

    public JobType require(String name) {
        return find(name).orElseThrow(() -> new UnknownJobTypeException(name, names()));
    }

    public Source source(String name) {
        if (name.equals(JobSpec.DEFAULT_JOB_TYPE) && fileTypes.get(name).equals(JobType.defaults(name))) {
            return Source.BUILT_IN;
        }
        return fileTypes.containsKey(name) ? Source.FILE : Source.RUNTIME;
    }

    /** Registers or replaces a run-time type, durably. A file-defined name is refused (409): the file wins. */
    public synchronized JobType register(JobType type) {
        if (fileTypes.containsKey(type.name())) {
            throw KilnException.conflict("name", "job type '" + type.name() + "' is defined in the configuration "
                    + "file; file-defined types win, so it cannot be replaced at run time");
        }
        store.save(type);
        runtimeTypes.put(type.name(), type);
        listeners.forEach(Runnable::run);
        return type;
    }

    /** Called after a run-time type was registered, replaced or removed. */
    public void onChange(Runnable listener) {
        listeners.add(listener);
    }

    /** Removes a run-time type. File-defined and built-in types cannot be removed (409). */
    public synchronized void remove(String name) {
        if (fileTypes.containsKey(name)) {
            throw KilnException.conflict("name", "job type '" + name + "' is defined in the configuration file and "
                    + "cannot be removed at run time");
        }
        if (!runtimeTypes.containsKey(name)) throw new UnknownJobTypeException(name, names());
        store.delete(name);
        runtimeTypes.remove(name);
        listeners.forEach(Runnable::run);
    }

    public List<String> names() {
        List<String> names = new ArrayList<>(fileTypes.keySet());
        for (String n : runtimeTypes.keySet()) if (!fileTypes.containsKey(n)) names.add(n);
        names.sort(null);
        return names;
    }

    public List<JobType> all() {
        return names().stream().map(n -> find(n).orElseThrow()).toList();
    }
}
