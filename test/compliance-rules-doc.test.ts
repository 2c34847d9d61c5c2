import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { RULES, RULE_IDS } from '../host/compliance/rules';
import type { RuleId } from '../host/compliance/types';

// dist/test/<file>.js → the repository root is two levels up.
const DOC = path.resolve(__dirname, '..', '..', 'docs', 'rules.md');

/** `## \`rule/id\`` headings → the text of each section. */
function sections(markdown: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = markdown.split(/^## /m).slice(1);
  for (const part of parts) {
    const heading = /^`([^`]+)`\s*\n/.exec(part);
    if (heading) out.set(heading[1]!, part.slice(heading[0].length));
  }
  return out;
}

describe('docs/rules.md', () => {
  const documented = sections(fs.readFileSync(DOC, 'utf8'));

  it('has a section for every rule in the catalogue', () => {
    const missing = RULE_IDS.filter((id) => !documented.has(id));
    assert.deepEqual(missing, []);
  });

  it('documents no rule the catalogue does not have', () => {
    const unknown = [...documented.keys()].filter((id) => !(id in RULES));
    assert.deepEqual(unknown, []);
  });

  it('says for each rule what it checks, why, and how to fix it', () => {
    for (const [id, text] of documented) {
      for (const part of ['**Checks.**', '**Why.**', '**Fix.**']) {
        assert.ok(text.includes(part), `${id} has no ${part} paragraph`);
      }
    }
  });

  it('lists the rules in catalogue order, with the phase the catalogue gives', () => {
    assert.deepEqual([...documented.keys()], RULE_IDS);
    for (const [id, text] of documented) {
      assert.match(text, new RegExp(`^Phase: ${RULES[id as RuleId].phase}\\.`), id);
    }
  });
});

describe('the rule catalogue', () => {
  it('keys every definition by its own id and fills every field', () => {
    for (const id of RULE_IDS) {
      const rule = RULES[id];
      assert.equal(rule.id, id);
      for (const field of [rule.title, rule.why, rule.fix]) assert.ok(field.length > 10, `${id}: ${field}`);
    }
    assert.equal(new Set(RULE_IDS).size, RULE_IDS.length);
  });
});
