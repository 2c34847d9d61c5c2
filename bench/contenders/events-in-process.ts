import path from 'node:path';

/** The preload that gives a host the in-process events bus (reference only: events-in-process-preload.ts). */
export const EVENTS_IN_PROCESS_PRELOAD = path.join(__dirname, 'events-in-process-preload.js');
/** The line that preload writes to standard output when the host takes that bus. */
export const EVENTS_IN_PROCESS_LINE = 'events in process (benchmark reference)';
