package dev.kiln.client;

import java.util.List;

/** One page of jobs, newest first. Entries are summaries: {@code output}, {@code stdout} and {@code stderr} are null (use {@link KilnClient#get}). */
public record JobList(List<JobResponse> jobs, String nextCursor) {
}
