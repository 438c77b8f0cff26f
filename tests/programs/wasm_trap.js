// node and V8: a WebAssembly out-of-bounds load is a SIGSEGV on a guard
// page that V8 handles and turns into a RuntimeError (tests/runtimes.rs).
const bytes = new Uint8Array([0,97,115,109,1,0,0,0,1,5,1,96,0,1,127,3,2,1,0,5,3,1,0,1,7,5,1,1,102,0,0,10,12,1,10,0,65,128,128,128,4,40,2,0,11]);
const m = new WebAssembly.Instance(new WebAssembly.Module(bytes));
let traps = 0;
for (let i = 0; i < 1000; i++) {
  try { m.exports.f(); } catch (e) { if (e instanceof WebAssembly.RuntimeError) traps++; }
}
console.log("traps " + traps);
