// Per-unit Merkle proofs for authenticated trading partners (issue #14, "serials cannot be
// harvested"). The web server never serves a batch's tree: a scanning partner asks for the proof
// of ONE unit in a request it signs (EIP-712, a deadline of at most five minutes and a one-time
// nonce); the server checks the signature, the deadline against the chain's clock, the nonce, and
// the directory (the signer must be an active manufacturer, distributor or pharmacy), and only
// then answers with that unit's position and proof.
//
//   POST /proofs   {"request": {pharmacy, gtin, lot, serial, nonce, deadline}, "signature": "0x..."}
//     200 {"known": true, "index": n, "proof": ["0x..", ...]}   the serial is in the batch's list
//     200 {"known": false}                                     it is not (verify then says No_match)
//     400 malformed request   401 bad signature / deadline   403 not an active trading partner
//     404 no serial list for this batch here   409 nonce already used   429 too many requests
//     503 chain unreachable
//
// Each partner may ask CARELEDGER_PROOF_RATE proofs per minute (default 600, a busy counter):
// guessing serials costs a signed request each and runs into the limit.
// Environment: CARELEDGER_RPC (the node; default http://127.0.0.1:8545), CARELEDGER_DEPLOYMENTS_DIR
// (else <CARELEDGER_HOME>/deployments), CARELEDGER_PROVENANCE_DIR (the tree files; else
// <CARELEDGER_HOME>/.careledger/provenance).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createPublicClient, encodeAbiParameters, http, isAddress, keccak256, recoverTypedDataAddress,
} from 'viem';

export const MAX_DEADLINE_S = 300;

// What the build and the SDK say, from the files frontend/generate.py writes (the folder vite's
// `@generated` points at): the proof request's EIP-712 domain and types (careledger/provenance/
// proofs.py), the directory's ABI and the Roles code table (contracts/common/Roles.sol).
const cache = new Map();
function generated(name) {
  const dir = process.env.CARELEDGER_WEB_GENERATED || join(new URL('.', import.meta.url).pathname, 'src', 'generated');
  const path = join(dir, name);
  const data = cache.get(path) || readJson(path);
  if (data) cache.set(path, data);
  else throw new HttpError(503, `the web server has no ${path}: run frontend/generate.py`);
  return data;
}
const proofRequest = () => generated('eip712.json').proof;
const directoryAbi = () => generated('abis.json').ParticipantDirectory;
/** Roles.MANUFACTURER | Roles.DISTRIBUTOR | Roles.PHARMACY: who may ask for a proof. */
function trading() {
  const roles = generated('codes.json').tables.Roles;
  return roles.MANUFACTURER | roles.DISTRIBUTOR | roles.PHARMACY;
}
export function proofDomain(chainId, registry) {
  const { name, version } = proofRequest();
  return { name, version, chainId, verifyingContract: registry };
}

class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

function home() {
  return process.env.CARELEDGER_HOME || join(new URL('.', import.meta.url).pathname, '..');
}

function readJson(path) {
  try { return JSON.parse(readFileSync(path, 'utf8')); } catch { return null; }
}

const used = new Map(); // "<signer>:<nonce>" -> deadline (forgotten once past)
const recent = new Map(); // signer -> times (ms) of its requests in the last 60 s

/** Counts a request of `signer`; false when it already made the limit in the last 60 s. */
function withinRate(signer) {
  const limit = Number(process.env.CARELEDGER_PROOF_RATE || 600);
  const now = Date.now();
  const times = (recent.get(signer) || []).filter((t) => t > now - 60000);
  if (times.length >= limit) {
    recent.set(signer, times);
    return false;
  }
  times.push(now);
  recent.set(signer, times);
  return true;
}

function batchIdOf(gtin, lot) {
  const h = BigInt(keccak256(encodeAbiParameters([{ type: 'uint256' }, { type: 'bytes32' }], [gtin, lot])));
  return `0x${(h >> 200n).toString(16).padStart(64, '0')}`;
}

/** Position and proof of `leaf` in a positional tree file (root first, leaves in order last). */
function locate(tree, leaf) {
  const count = tree.length / 32;
  const width = (count + 1) / 2;
  const want = Buffer.from(leaf.slice(2), 'hex');
  for (let i = 0; i < width; i++) {
    if (tree.compare(want, 0, 32, (width - 1 + i) * 32, (width + i) * 32) === 0) {
      const proof = [];
      for (let node = width + i; node > 1; node >>= 1) {
        const s = node ^ 1; // heap numbering from 1; the file starts at node 1
        proof.push(`0x${tree.subarray((s - 1) * 32, s * 32).toString('hex')}`);
      }
      return { index: i, proof };
    }
  }
  return null;
}

function field(req, name, test) {
  const v = req[name];
  if (v === undefined || v === null || !test(v)) throw new HttpError(400, `request.${name} is missing or malformed`);
  return v;
}

async function answer(body) {
  let parsed;
  try { parsed = JSON.parse(body); } catch { throw new HttpError(400, 'the body is not JSON'); }
  const req = parsed && parsed.request;
  const signature = parsed && parsed.signature;
  if (!req || typeof signature !== 'string' || !/^0x[0-9a-fA-F]{130}$/.test(signature)) {
    throw new HttpError(400, 'expected {"request": {...}, "signature": "0x..."}');
  }
  const hex32 = (v) => typeof v === 'string' && /^0x[0-9a-fA-F]{64}$/.test(v);
  const decimal = (v) => typeof v === 'string' && /^[0-9]{1,78}$/.test(v);
  const message = {
    pharmacy: field(req, 'pharmacy', (v) => typeof v === 'string' && isAddress(v)),
    gtin: BigInt(field(req, 'gtin', decimal)),
    lot: field(req, 'lot', hex32),
    serial: field(req, 'serial', hex32),
    nonce: BigInt(field(req, 'nonce', decimal)),
    deadline: BigInt(field(req, 'deadline', decimal)),
  };
  const rpc = process.env.CARELEDGER_RPC || 'http://127.0.0.1:8545';
  const client = createPublicClient({ transport: http(rpc, { retryCount: 0, timeout: 8000 }) });
  let chainId; let now;
  try {
    chainId = await client.getChainId();
    now = (await client.getBlock()).timestamp;
  } catch {
    throw new HttpError(503, `the proof service cannot reach the chain at ${rpc}`);
  }
  const depDir = process.env.CARELEDGER_DEPLOYMENTS_DIR || join(home(), 'deployments');
  const dep = readJson(join(depDir, `${chainId}.json`));
  const registry = dep?.contracts?.ProvenanceRegistry?.address;
  const directory = dep?.contracts?.ParticipantDirectory?.address;
  if (!registry || !directory) throw new HttpError(503, `no CareLedger deployment for chain ${chainId} here`);

  // Deadline against the chain's clock: not past, and at most five minutes ahead.
  if (message.deadline <= now) throw new HttpError(401, 'the request has expired (deadline passed)');
  if (message.deadline > now + BigInt(MAX_DEADLINE_S)) {
    throw new HttpError(401, `the deadline is more than ${MAX_DEADLINE_S} s ahead of the chain's clock`);
  }
  const domain = proofDomain(chainId, registry);
  const { types } = proofRequest();
  let signer;
  try {
    signer = await recoverTypedDataAddress({ domain, types, primaryType: 'ProofRequest', message, signature });
  } catch {
    throw new HttpError(401, 'the signature cannot be read');
  }
  if (signer.toLowerCase() !== message.pharmacy.toLowerCase()) {
    throw new HttpError(401, 'the request is not signed by the partner it names');
  }
  const active = await client.readContract({
    address: directory, abi: directoryAbi(), functionName: 'isActive', args: [signer, trading()],
  }).catch(() => { throw new HttpError(503, 'the directory cannot be read'); });
  if (!active) throw new HttpError(403, `${signer} is not an active trading partner in the directory`);
  if (!withinRate(signer.toLowerCase())) {
    throw new HttpError(429, 'too many proof requests from this partner this minute: try again shortly');
  }
  for (const [key, until] of used) if (until <= now) used.delete(key);
  const key = `${signer.toLowerCase()}:${message.nonce}`;
  if (used.has(key)) throw new HttpError(409, 'this nonce was already used: sign a fresh request');
  used.set(key, message.deadline);

  const store = process.env.CARELEDGER_PROVENANCE_DIR || join(home(), '.careledger', 'provenance');
  let tree;
  try {
    tree = readFileSync(join(store, `${batchIdOf(message.gtin, message.lot)}.tree`));
  } catch {
    throw new HttpError(404, 'no serial list for this batch here: ask the supplier');
  }
  const unitId = keccak256(encodeAbiParameters([{ type: 'uint256' }, { type: 'bytes32' }], [message.gtin, message.serial]));
  const found = locate(tree, keccak256(unitId));
  return found ? { known: true, ...found } : { known: false };
}

/** Connect/Vite middleware for POST /proofs. */
export function proofMiddleware(req, res, next) {
  if ((req.url || '').split('?')[0] !== '/proofs') return next();
  const send = (status, data) => {
    res.statusCode = status;
    res.setHeader('content-type', 'application/json');
    res.setHeader('cache-control', 'no-store');
    res.end(JSON.stringify(data));
  };
  if (req.method !== 'POST') return send(405, { error: 'POST a signed proof request' });
  let body = '';
  req.on('data', (chunk) => {
    body += chunk;
    if (body.length > 8192) req.destroy();
  });
  req.on('end', () => {
    answer(body).then((data) => send(200, data), (e) => {
      send(e instanceof HttpError ? e.status : 500, { error: e instanceof HttpError ? e.message : 'internal error' });
    });
  });
  return undefined;
}
