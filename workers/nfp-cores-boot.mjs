// Piscina loads a worker file with import(); from the TypeScript sources (tsx, vitest) the worker must
// first register tsx's loader, as firmware/runner.ts's spawnModuleWorker does for plain workers. The
// built tree (dist/) points piscina at workers/nfp-cores.js directly and never loads this file.
import { register } from 'tsx/esm/api';

register();
const mod = await import('./nfp-cores.ts');
export default mod.default;
