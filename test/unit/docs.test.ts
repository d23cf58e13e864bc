/** scripts/docs.ts: the generated regions of docs/*.md and the link check (files only, no network). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Results } from '../../bench/lib/results';
import {
  allRenderers,
  anchors,
  BenchFigures,
  brokenLinks,
  checkedMarkdown,
  DRILLS,
  type DrillResult,
  drillRenderers,
  fillRegions,
  linkTargets,
  ROOT,
  regionNames,
  slug,
} from '../../scripts/docs';

describe('Function: fillRegions', () => {
  it('replaces the body of each region and leaves the text around it', () => {
    // Prepare
    const text =
      'intro\n<!-- generated:a -->\nold a\n<!-- /generated -->\nmiddle\n<!-- generated:b -->\n<!-- /generated -->\nend\n';

    // Act
    const out = fillRegions(text, { a: () => 'new a', b: () => '| t |' });

    // Assess
    expect(out).toBe(
      'intro\n<!-- generated:a -->\n\nnew a\n\n<!-- /generated -->\nmiddle\n<!-- generated:b -->\n\n| t |\n\n<!-- /generated -->\nend\n',
    );
    expect(fillRegions(out, { a: () => 'new a', b: () => '| t |' })).toBe(out);
  });

  it('reads the start/end form that docs/cost.md and local/README.md use', () => {
    const text = 'x\n<!-- cost-table:start (npm run docs) -->\nold\n<!-- cost-table:end -->\ny';
    expect(regionNames(text)).toEqual(['cost-table']);
    expect(fillRegions(text, { 'cost-table': () => 'new' })).toBe(
      'x\n<!-- cost-table:start (npm run docs) -->\n\nnew\n\n<!-- cost-table:end -->\ny',
    );
  });

  it('refuses a region without its closing marker or without a generator', () => {
    expect(() => fillRegions('<!-- generated:a -->\nbody', { a: () => '' }, 'f.md')).toThrow(
      'f.md: region "a" has no <!-- /generated -->',
    );
    expect(() => fillRegions('<!-- generated:typo -->\n<!-- /generated -->', {}, 'f.md')).toThrow(
      'f.md: no generator for region "typo"',
    );
  });
});

describe('Function: brokenLinks', () => {
  const file = join(ROOT, 'docs', 'page.md');

  it('finds links to missing files and missing headings, and leaves web links and code alone', () => {
    // Prepare
    const text = [
      '# Page',
      '[ok](../README.md) [image](demo.png) [self](#page) [web](https://example.org/x) <https://example.org>',
      '[missing](nowhere.md) [bad anchor](../README.md#no-such-heading) [bad self](#nope)',
      '`[in code](gone.md)`',
      '```',
      '[in a block](gone.md)',
      '```',
      '[ref]: ../local/README.md#command-line',
    ].join('\n');

    // Act
    const broken = brokenLinks(file, text, (p) => (p === file ? text : readFileSync(p, 'utf8')));

    // Assess
    expect(broken).toEqual([
      'nowhere.md (no docs/nowhere.md)',
      '../README.md#no-such-heading (no heading #no-such-heading in README.md)',
      '#nope (no heading #nope in docs/page.md)',
    ]);
  });

  it('takes inline links, images and reference definitions', () => {
    expect(linkTargets('[a](x.md "title") ![b](<y z.png>)\n[c]: w.md')).toEqual(['x.md', 'y z.png', 'w.md']);
  });

  it('makes anchors as GitHub does', () => {
    expect(slug('Egress without NAT (`Egress=Ipv6`)')).toBe('egress-without-nat-egressipv6');
    expect(slug('`ping`: a Lambda, not a MOCK integration')).toBe('ping-a-lambda-not-a-mock-integration');
    expect([...anchors('# A\n## A\n```\n# not a heading\n```\n### [Link](x.md) b')]).toEqual([
      'a',
      'a-1',
      'link-b',
    ]);
  });

  it('finds every relative link of README.md and docs/*.md in the tree', () => {
    const broken = checkedMarkdown().flatMap((f) => brokenLinks(f, readFileSync(f, 'utf8')));
    expect(broken).toEqual([]);
  });
});

describe('Function: benchRenderers and drillRenderers', () => {
  it('renders every region of the docs from the committed bench results and drill snapshot', () => {
    const renderers = allRenderers();
    for (const file of checkedMarkdown())
      for (const name of regionNames(readFileSync(file, 'utf8'))) {
        expect(renderers[name]).toBeDefined();
        expect((renderers[name] as () => string)().length).toBeGreaterThan(0);
      }
  });

  it('fails on a figure the results do not have, naming it', () => {
    const results: Results = {
      figures: [{ key: 'a', value: 1, unit: 'ms', note: '' }],
      machine: 'm',
      date: 'd',
    };
    const b = new BenchFigures(results);
    expect(b.v('a')).toBe('1');
    expect(() => b.n('fanout_ms_100')).toThrow('bench/results/latest.json has no figure "fanout_ms_100"');
  });

  it('shows a drill without results as not run here, and refuses results no entry describes', () => {
    // Prepare
    const soak: DrillResult = {
      drill: 'soak',
      at: '2026-12-02T10:00:00.000Z',
      options: { connections: 1000, seconds: 30 },
      figures: {
        sent: 1539,
        acknowledged: 1539,
        delivered: 29241,
        recovered: 0,
        lost: 0,
        duplicated: 0,
        connected: 1000,
        seconds: 30,
        server_errors: 0,
        rss_growth: 1.07,
        steady_keys_min: 200,
        steady_keys_max: 200,
        keys_without_ttl: 0,
      },
    };

    // Act
    const rendered = drillRenderers(new Map([['soak', soak]]));
    const rows = (rendered['drills-table'] as () => string)().split('\n');

    // Assess
    expect(rows).toHaveLength(DRILLS.length + 2);
    expect(rows.find((r) => r.startsWith('| soak |'))).toContain('| 1,539 / 1,539 | 29,241 / 0 | 0 | 0 |');
    expect(rows.find((r) => r.includes('`npm run drill:failover`'))).toContain(
      'not run here (needs a deployed stage and AWS credentials)',
    );
    expect((rendered['drills-options'] as () => string)()).toBe(
      '- `soak` (2026-12-02 10:00 UTC): connections=1000, seconds=30',
    );
    expect(() => drillRenderers(new Map([['new-drill', { ...soak, drill: 'new-drill' }]]))).toThrow(
      'no entry in DRILLS (scripts/docs.ts) for new-drill',
    );
  });
});
