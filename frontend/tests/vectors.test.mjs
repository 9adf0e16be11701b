// The web client's mirrors of chain rules under Node (`node --test`, no browser): the GS1 date
// rule (frontend/src/gs1.js) on tests/data/gs1_expiry_vectors.json and the ids and pairwise
// pseudonym paths (frontend/src/ids.js) on tests/data/id_vectors.json, the files the contracts and the Python SDK
// are held to. tests/frontend/test_node_vectors.py runs this file from pytest (so `make test` does).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { ScanError, expiryDate, parseScan } from '../src/gs1.js';
import { asBytes32, batchIdOf, pairwisePath, unitIdOf } from '../src/ids.js';

const data = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'tests', 'data');
const gs1 = JSON.parse(readFileSync(join(data, 'gs1_expiry_vectors.json'), 'utf8')).cases;
const ids = JSON.parse(readFileSync(join(data, 'id_vectors.json'), 'utf8')).cases;
// The page's sentence for each kind of invalid date.
const MESSAGES = { format: 'must be 6 digits', month: 'which does not exist', day: 'is not a real date' };

test('every GS1 date vector reads as the chain reads it', () => {
  assert.ok(gs1.length > 20);
  for (const c of gs1) {
    const seconds = BigInt(Date.parse(c.reference) / 1000);
    if (c.date) {
      assert.equal(expiryDate(c.yymmdd, seconds), c.date, `${c.yymmdd} at ${c.reference}`);
      assert.equal(expiryDate(c.yymmdd, new Date(c.reference)), c.date, `${c.yymmdd} at ${c.reference} (Date)`);
    } else {
      assert.throws(() => expiryDate(c.yymmdd, seconds), (e) => e instanceof ScanError && e.message.includes(MESSAGES[c.error]),
        `${c.yymmdd} at ${c.reference} should be refused (${c.error})`);
    }
  }
});

test('a GS1 date is never resolved against the computer clock', () => {
  const unit = parseScan('(01)09506000134352(17)991231(10)L(21)S');
  assert.equal(unit.expiry, '991231');
  assert.equal(unit.expiryDate, undefined);
  assert.throws(() => expiryDate('991231'), /a GS1 date needs a reference time/);
});

test('unit ids are the registry\'s unitIdOf', () => {
  assert.ok(ids.unitId.length >= 3);
  for (const c of ids.unitId) assert.equal(unitIdOf(c.gtin, c.serial), c.id, c.why);
});

test('batch ids are the registry\'s batchIdOf', () => {
  assert.ok(ids.batchId.length >= 3);
  for (const c of ids.batchId) assert.equal(batchIdOf(c.gtin, c.lot), c.id, c.why);
});

test('Merkle leaves are OpenZeppelin StandardMerkleTree leaves of (gtin, serial)', () => {
  for (const c of ids.leaf) {
    assert.equal(StandardMerkleTree.of([[c.gtin, asBytes32(c.serial)]], ['uint256', 'bytes32']).leafHash([c.gtin, asBytes32(c.serial)]), c.leaf, c.why);
  }
});

test('pairwise pseudonym paths are careledger.accounts.pairwise_path\'s', () => {
  assert.ok(ids.pairwisePath.length >= 3);
  for (const c of ids.pairwisePath) assert.equal(pairwisePath(c.counterparty, c.identity), c.path, c.why);
});
