package dev.kiln.client;

import java.util.List;

/** One page of jobs, newest first. */
public record JobList(List<JobResponse> jobs, String nextCursor) {
}
