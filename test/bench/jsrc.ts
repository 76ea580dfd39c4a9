// Print the JavaScript the host JIT made for a test program (a tool for JIT work).
import { loadEmu } from '../kernel/emu-harness.js';
import type { BpfProg } from '../../src/kernel/prog.js';
const emu = loadEmu(process.argv[2] ?? 'xdp_csum_frame');
const p = emu.k.fds.get(Object.values(emu.progs)[0]!)!.obj as BpfProg;
const src = p.jited!.source.split('\n');
console.log(process.argv[3] === 'all' ? src.join('\n') : src.filter((l) => /^(\/\*|function F0|B\d|L\d|\}|break)/.test(l)).join('\n'));
