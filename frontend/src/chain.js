// The chain floor of the web client: one public client over HTTP, the deployed contracts as
// {address, abi} objects, the signer (devnet cast key or injected wallet), writes as
// simulate -> write -> wait for receipt, and every failure turned into a readable sentence.
import {
  BaseError, ContractFunctionRevertedError, HttpRequestError, TimeoutError, UserRejectedRequestError,
  createPublicClient, createWalletClient, custom, decodeEventLog, defineChain, getAddress, http, isAddress,
} from 'viem';
import abis from '@generated/abis.json';
import { roleNames } from './codes.js';
import { pairwisePath } from './ids.js';
import errorItems from '@generated/errors.json';
import deployments from '@generated/deployments.json';
import generated from '@generated/config.json';

const query = new URLSearchParams(location.search);

/** Page configuration: generated defaults, overridden by ?rpc=...&relayer=...&index=... */
export const config = {
  rpcUrl: query.get('rpc') || generated.rpcUrl,
  relayerUrl: (query.get('relayer') || generated.relayerUrl).replace(/\/$/, ''),
  // The web server's per-unit proof service (frontend/proof-service.mjs): POST a signed request.
  proofsUrl: query.get('proofs') || generated.proofsUrl || './proofs',
  // The index API (careledger index serve) the history panels read; the chain's logs when it is down.
  indexUrl: (query.get('index') || generated.indexUrl || './index-api').replace(/\/$/, ''),
  cast: generated.cast,
  // Genesis hashes of the devnets this project started: the only chains with test keys.
  devGenesis: (generated.devGenesis || []).map((h) => h.toLowerCase()),
};

/** An error whose message is already fit for the page. */
export class UserError extends Error {}

export const publicClient = createPublicClient({
  transport: http(config.rpcUrl, { retryCount: 0, timeout: 8000 }),
  pollingInterval: 100,
});

// Every custom error of the build, so a revert raised by a contract we called *through*
// (the directory's ParticipantLacksRole inside a dispense, say) still decodes.
const errorAbi = errorItems.map(({ notice, ...item }) => item);
const notices = Object.fromEntries(errorItems.map((e) => [e.name, e.notice]));

/** What we learnt about the node: chain id, deployment and whether it matches. */
export const network = { chainId: null, chain: null, deployment: null, problem: null, devnet: false };

export async function connect() {
  let chainId;
  try {
    chainId = await publicClient.getChainId();
  } catch (e) {
    throw new UserError(nodeDown());
  }
  network.chainId = chainId;
  const genesis = await publicClient.getBlock({ blockNumber: 0n });
  // A devnet is known by its genesis block (one this project started), never by its chain id.
  network.devnet = config.devGenesis.includes(genesis.hash.toLowerCase());
  network.chain = defineChain({
    id: chainId, name: network.devnet ? 'CareLedger devnet' : `chain ${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [config.rpcUrl] } },
  });
  const dep = deployments[String(chainId)];
  network.deployment = null;
  network.problem = null;
  if (!dep) {
    network.problem = `CareLedger is not deployed on chain ${chainId}: this page was built without a `
      + `deployments/${chainId}.json. Run 'careledger deploy', then rebuild the page (frontend/serve.sh).`;
    return network;
  }
  if (genesis.hash !== dep.genesisHash) {
    network.problem = `The deployments this page was built with belong to another chain with id ${chainId} `
      + `(the node at ${config.rpcUrl} was restarted or reset). Run 'careledger deploy' and rebuild the page.`;
    return network;
  }
  network.deployment = dep;
  return network;
}

export function nodeDown() {
  return `No Ethereum node answers at ${config.rpcUrl}. Is the devnet up? Start it with 'make up', `
    + `or open this page with ?rpc=http://HOST:PORT.`;
}

/** Names of the contracts deployed on this chain. */
export function deployedNames() {
  return network.deployment ? Object.keys(network.deployment.contracts).sort() : [];
}

export function has(name) {
  return Boolean(network.deployment?.contracts[name]);
}

/** {address, abi, block} of a deployed contract, or a readable UserError. */
export function contract(name) {
  if (network.problem) throw new UserError(network.problem);
  const rec = network.deployment?.contracts[name];
  if (!rec) throw new UserError(`${name} is not deployed on chain ${network.chainId}; run 'careledger deploy'.`);
  const artifact = rec.artifact || name;
  if (!abis[artifact]) throw new UserError(`${artifact} is not in the build this page was made from; rebuild the page.`);
  return { address: rec.address, abi: [...abis[artifact], ...errorAbi], block: BigInt(rec.block), name };
}

export function read(name, functionName, args = []) {
  return publicClient.readContract({ ...contract(name), functionName, args });
}

// ------------------------------------------------------------------ people and signers

const castByAddress = new Map(config.cast.map((m) => [m.address.toLowerCase(), m]));

/** "Corner Pharmacy (0x1234…abcd)" for a cast address, else the short address. */
export function who(address) {
  if (!address || !isAddress(address)) return String(address);
  const m = castByAddress.get(address.toLowerCase());
  return m ? `${m.label} (${short(address)})` : short(address);
}

export function short(value) {
  const s = String(value);
  return s.length > 14 ? `${s.slice(0, 6)}…${s.slice(-4)}` : s;
}

/** True when the page may sign with the public devnet keys: local devnet, no wallet. */
export function usesDevnetKeys() {
  return !window.ethereum && network.devnet;
}

const devKeys = new Map(); // index -> account (deriving from the mnemonic costs a PBKDF2 run)

async function devAccount(index) {
  if (!devKeys.has(index)) {
    const { mnemonicToAccount } = await import('viem/accounts');
    devKeys.set(index, mnemonicToAccount(generated.devMnemonic, { addressIndex: index }));
  }
  return devKeys.get(index);
}

const pseudonyms = new Map(); // path -> account

/**
 * The signer a person uses with `counterparty`: on the devnet, a cast person's pairwise pseudonym
 * (derived from the test mnemonic, so each organisation sees a different address); an
 * organisation or an injected wallet signs as itself (a wallet cannot derive these paths).
 */
export async function pseudonymFor(signer, counterparty) {
  if (signer.kind !== 'devnet' || signer.member?.role !== 'patient') return signer;
  const path = pairwisePath(counterparty, signer.member.index);
  if (!pseudonyms.has(path)) {
    const { mnemonicToAccount } = await import('viem/accounts');
    pseudonyms.set(path, mnemonicToAccount(generated.devMnemonic, { path }));
  }
  const account = pseudonyms.get(path);
  const wallet = createWalletClient({ account, chain: network.chain, transport: http(config.rpcUrl) });
  return { kind: 'devnet', account, address: account.address, member: signer.member, wallet, counterparty: getAddress(counterparty) };
}

/** A signer for cast member `name` (devnet) or the injected wallet's selected account. */
export async function signerFor(name) {
  if (usesDevnetKeys()) {
    const member = config.cast.find((m) => m.name === name) || config.cast[0];
    const account = await devAccount(member.index);
    const wallet = createWalletClient({ account, chain: network.chain, transport: http(config.rpcUrl) });
    return { kind: 'devnet', account, address: account.address, member, wallet };
  }
  if (!window.ethereum) {
    throw new UserError(`Chain ${network.chainId} is not the local devnet: connect a browser wallet `
      + '(an EIP-1193 extension) to sign. Test keys are only offered on a devnet this project started.');
  }
  const wallet = createWalletClient({ chain: network.chain, transport: custom(window.ethereum) });
  const [address] = await wallet.requestAddresses();
  const walletChain = await wallet.getChainId();
  if (walletChain !== network.chainId) {
    throw new UserError(`Wrong network: your wallet is on chain ${walletChain}, CareLedger runs on chain `
      + `${network.chainId}. Switch networks in your wallet and try again.`);
  }
  return { kind: 'injected', account: address, address, member: castByAddress.get(address.toLowerCase()), wallet };
}

/** simulate -> write -> wait for the receipt. Returns the receipt; throws on refusal. */
export async function write(signer, name, functionName, args = [], value) {
  const c = contract(name);
  if (signer.kind === 'injected') {
    const walletChain = await signer.wallet.getChainId();
    if (walletChain !== network.chainId) {
      throw new UserError(`Wrong network: your wallet is on chain ${walletChain}, CareLedger runs on chain ${network.chainId}.`);
    }
  }
  const { request } = await publicClient.simulateContract({
    address: c.address, abi: c.abi, functionName, args, account: signer.account, value,
  });
  const hash = await signer.wallet.writeContract(request);
  const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 });
  if (receipt.status !== 'success') throw new UserError(`Transaction ${short(hash)} was mined but reverted.`);
  return receipt;
}

// ------------------------------------------------------------------ events

/** Decoded events of a deployed contract, newest first (at most `limit`). */
export async function events(name, { eventName, args, limit = 50, fromBlock } = {}) {
  const c = contract(name);
  const logs = await publicClient.getContractEvents({
    address: c.address, abi: c.abi, eventName, args, fromBlock: fromBlock ?? c.block, toBlock: 'latest', strict: false,
  });
  return logs.slice(-limit).reverse();
}

export function decodeLog(name, log) {
  const c = contract(name);
  try {
    return decodeEventLog({ abi: c.abi, data: log.data, topics: log.topics });
  } catch {
    return null;
  }
}

export async function blockTime(blockNumber, cache = new Map()) {
  const key = String(blockNumber);
  if (!cache.has(key)) cache.set(key, publicClient.getBlock({ blockNumber }).then((b) => Number(b.timestamp)));
  return cache.get(key);
}

// ------------------------------------------------------------------ errors, in words

function formatValue(value, type, name = '') {
  if (typeof value === 'string' && isAddress(value)) return who(value);
  if (/roles$/i.test(name) && type === 'uint8') return `${value} (${roleNames(value)})`;
  // uint256 identifiers in full hex, other wide integers in decimal: exact, never through Number.
  if (typeof value === 'bigint' && type === 'uint256' && /(^id|Id)$/.test(name)) return `0x${value.toString(16).padStart(64, '0')}`;
  if (typeof value === 'bigint') return value.toString();
  if (type === 'bytes32' && typeof value === 'string') return short(value);
  return String(value);
}

/** "ParticipantLacksRole: Corner Pharmacy (0x…) is active but holds none of the roles in 16." */
export function describeRevert(errorName, args = [], inputs = []) {
  const values = Object.fromEntries(inputs.map((p, i) => [p.name || `arg${i}`, formatValue(args[i], p.type, p.name)]));
  let text = notices[errorName] || '';
  text = text.replace(/`(\w+)`/g, (m, n) => (n in values ? values[n] : n)).replace(/\{(\w+(?:\.\w+)?)\}/g, '$1');
  const shown = Object.entries(values).map(([k, v]) => `${k}=${v}`).join(', ');
  return text ? `${errorName}: ${text}` : `${errorName}(${shown})`;
}

/**
 * A custom error reported in JSON (the relayer's 422 body, `careledger --json`): `args` by name,
 * integers wider than 48 bits as strings (docs/json.md). Each value is revived by the error's ABI
 * into what viem would decode (a bigint), so the sentence is the one a direct call gives, exactly.
 */
export function describeJsonRevert(name, errorName, args = {}) {
  const item = contract(name).abi.find((x) => x.type === 'error' && x.name === errorName);
  const inputs = item ? item.inputs : Object.keys(args).map((n) => ({ name: n, type: '' }));
  const values = inputs.map((p, i) => exactValue(args[p.name || `arg${i}`], p.type));
  return describeRevert(errorName, values, inputs);
}

function exactValue(value, type) {
  const bits = /^u?int(\d*)$/.exec(type || '');
  if (bits && Number(bits[1] || 256) > 48 && typeof value === 'string') return BigInt(value);
  return value;
}

/** One readable sentence for anything a user can cause: reverts, node down, wallet refusals. */
export function explain(err) {
  if (err instanceof UserError) return err.message;
  if (err instanceof BaseError) {
    const revert = err.walk((e) => e instanceof ContractFunctionRevertedError);
    if (revert) {
      if (revert.data?.errorName) {
        return `Refused by the contract — ${describeRevert(revert.data.errorName, revert.data.args, revert.data.abiItem?.inputs)}`;
      }
      if (revert.reason) return `Refused by the contract: ${revert.reason}`;
      if (revert.signature) return `Refused by the contract with an unknown error (selector ${revert.signature}).`;
      return 'Refused by the contract (no reason given).';
    }
    if (err.walk((e) => e instanceof UserRejectedRequestError)) return 'You declined the request in your wallet.';
    if (err.walk((e) => e instanceof HttpRequestError || e instanceof TimeoutError)) return nodeDown();
    return err.shortMessage || err.message;
  }
  if (err instanceof TypeError && /fetch/i.test(err.message)) return nodeDown();
  return String(err?.message || err);
}

