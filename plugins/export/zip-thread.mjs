// Starts the export thread: the TypeScript loader is registered for this thread first, as the
// `--import tsx` of the main thread does not reach worker threads.
import { register } from 'tsx/esm/api';

register();
await import('./zip-thread-worker.ts');
