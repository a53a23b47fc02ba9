package dev.kiln.core;

import java.util.List;

/** Tells several observers, in order. */
public final class CompositeEvents implements OrchestratorEvents {
    private final List<OrchestratorEvents> observers;

    public CompositeEvents(OrchestratorEvents... observers) {
        this.observers = List.of(observers);
    }

    @Override
    public void submitted(JobRecord job) {
        observers.forEach(o -> o.submitted(job));
    }

    @Override
    public void started(JobRecord job, long queuedMs) {
        observers.forEach(o -> o.started(job, queuedMs));
    }

    @Override
    public void finished(JobRecord job) {
        observers.forEach(o -> o.finished(job));
    }

    @Override
    public void requeued(JobRecord job, String reason) {
        observers.forEach(o -> o.requeued(job, reason));
    }

    @Override
    public void dispatched(JobRecord job, long nanos) {
        observers.forEach(o -> o.dispatched(job, nanos));
    }
}
