#!/usr/bin/env node
// solc-adapter: makes the official solc-js (npm "solc", the emscripten build of the
// compiler) answer like the native `solc` binary for the calls the Python toolchain makes:
//
//   solc --version
//   solc --standard-json [--base-path DIR] [--include-path DIR]... [--allow-paths a,b] < input.json
//
// That is all py-solc-x, ape-solidity and Slither use. The bytecode is the same as the native
// build of the same version (same compiler, compiled to WebAssembly); tests/test_toolchain.py
// checks a committed bytecode hash. Imports are resolved like native solc: against the base
// path, then each include path, then as given. Output is written with a drain callback because
// Node truncates a large pipe write if the process exits right after it.
'use strict';
const fs = require('fs');
const path = require('path');

const projectRoot = path.resolve(__dirname, '..', '..');
const solc = require(require.resolve('solc', { paths: [projectRoot] }));

function nativeVersion() {
  // "0.8.28+commit.7893614a.Emscripten.clang" -> "0.8.28+commit.7893614a.Linux.g++"
  return solc.version().replace(/\.Emscripten\.clang$/, '.Linux.g++');
}

function parseArgs(argv) {
  const opts = { basePath: null, includePaths: [], standardJson: false, version: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const take = () => {
      if (i + 1 >= argv.length) fail(`option ${a} needs a value`);
      return argv[++i];
    };
    if (a === '--version') opts.version = true;
    else if (a === '--help') opts.help = true;
    else if (a === '--standard-json') opts.standardJson = true;
    else if (a === '--base-path') opts.basePath = take();
    else if (a.startsWith('--base-path=')) opts.basePath = a.slice(12);
    else if (a === '--include-path') opts.includePaths.push(take());
    else if (a.startsWith('--include-path=')) opts.includePaths.push(a.slice(15));
    else if (a === '--allow-paths') take(); // solc-js reads only through our callback: nothing to allow
    else if (a.startsWith('--allow-paths=')) { /* ignored, see above */ }
    else if (a === '-' ) { /* stdin marker */ }
    else fail(`unsupported option ${a} (this adapter implements --version and --standard-json only)`);
  }
  return opts;
}

function fail(message) {
  process.stderr.write(`solc-adapter: ${message}\n`);
  process.exitCode = 1;
  throw new Error(message);
}

function makeResolver(opts) {
  const roots = [opts.basePath || process.cwd(), ...opts.includePaths].map((p) => path.resolve(p));
  return function findImports(importPath) {
    const candidates = path.isAbsolute(importPath)
      ? [importPath]
      : roots.map((r) => path.join(r, importPath));
    for (const file of candidates) {
      try {
        return { contents: fs.readFileSync(file, 'utf8') };
      } catch (_) {
        // try the next root
      }
    }
    return { error: `File not found. Searched the following locations: ${roots.join(', ')}` };
  };
}

function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (_) {
    return;
  }
  if (opts.version) {
    process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${nativeVersion()}\n`);
    return;
  }
  if (opts.help || !opts.standardJson) {
    process.stdout.write('usage: solc --version | solc --standard-json [--base-path DIR] [--include-path DIR] < input.json\n');
    if (!opts.help) process.exitCode = 1;
    return;
  }
  const input = fs.readFileSync(0, 'utf8');
  const findImports = makeResolver(opts);
  // Sources given by URL (not content) are read the way native solc reads them.
  let parsed;
  try {
    parsed = JSON.parse(input);
  } catch (e) {
    process.stdout.write(JSON.stringify({ errors: [{ severity: 'error', type: 'JSONError', component: 'general', message: `Input is not valid JSON: ${e.message}`, formattedMessage: `JSONError: ${e.message}` }] }));
    return;
  }
  for (const [name, src] of Object.entries(parsed.sources || {})) {
    if (src.content === undefined && Array.isArray(src.urls)) {
      for (const url of src.urls) {
        const found = findImports(url);
        if (found.contents !== undefined) { src.content = found.contents; delete src.urls; break; }
      }
      if (src.content === undefined) {
        const found = findImports(name);
        if (found.contents !== undefined) { src.content = found.contents; delete src.urls; }
      }
    }
  }
  const output = solc.compile(JSON.stringify(parsed), { import: findImports });
  const tmp = process.env.SOLC_ADAPTER_OUT;
  if (tmp) fs.writeFileSync(tmp, output);
  // Let the pipe drain: no process.exit() after a large write.
  process.stdout.write(output);
}

main();
