/**
 * Admin access control: every admin HTTP route of the package, on a real Node-RED process with the editor
 * secured (adminAuth): 401 without a token, 403 for a read-only user on write routes, allowed for an admin.
 * The list of routes is checked against the source, so a new route cannot be added without a test here.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, makeUserDir, NodeRedProcess, root } from './toolkit';

interface Route {
  method: 'get' | 'post';
  path: string;
  /** The path as registered in the source (with :params). */
  pattern: string;
  body?: unknown;
  write: boolean;
}

const TUTORIAL_CHAIN = path.join(root, 'test', 'fixtures', 'thingsboard', 'mqtt-downlink-root-rule-chain.json');

const ROUTES: Route[] = [
  {
    method: 'post',
    path: '/rule-engine/script/test',
    pattern: '/rule-engine/script/test',
    body: { script: 'return {msg: msg};', msg: { a: 1 }, metadata: {}, msgType: 'X' },
    write: true,
  },
  {
    method: 'post',
    path: '/rule-engine/integration/test-decoder',
    pattern: '/rule-engine/integration/test-decoder',
    body: { decoder: 'return {deviceName: "A"};', payload: '{}', payloadFormat: 'json', metadata: {} },
    write: true,
  },
  {
    method: 'post',
    path: '/rule-engine/integration/test-encoder',
    pattern: '/rule-engine/integration/test-encoder',
    body: { encoder: 'return {contentType: "TEXT", data: "x", metadata: {topic: "a/b"}};', msg: {}, metadata: {} },
    write: true,
  },
  {
    // The editor's import builds flows: the flows write permission.
    method: 'post',
    path: '/rule-engine/import/thingsboard',
    pattern: '/rule-engine/import/thingsboard',
    body: { ruleChain: { name: 'chain.json', text: fs.readFileSync(TUTORIAL_CHAIN, 'utf8') } },
    write: true,
  },
  {
    // A deployed node's last input may hold device secrets: write permission, like the Test run that uses it.
    method: 'get',
    path: '/rule-engine/script/sample/abc',
    pattern: '/rule-engine/script/sample/:id',
    write: true,
  },
  {
    method: 'post',
    path: '/rule-engine/script-filter/test',
    pattern: '/rule-engine/script-filter/test',
    body: { script: 'return msg.a > 0;', msg: { a: 1 }, metadata: {}, msgType: 'X' },
    write: true,
  },
  {
    method: 'get',
    path: '/rule-engine/script-filter/sample/abc',
    pattern: '/rule-engine/script-filter/sample/:id',
    write: true,
  },
  {
    method: 'post',
    path: '/rule-engine/script-switch/test',
    pattern: '/rule-engine/script-switch/test',
    body: { script: 'return "a";', relations: ['a'], msg: {}, metadata: {}, msgType: 'X' },
    write: true,
  },
  {
    method: 'get',
    path: '/rule-engine/script-switch/sample/abc',
    pattern: '/rule-engine/script-switch/sample/:id',
    write: true,
  },
];

/** Every `RED.httpAdmin.<verb>('<path>', ...)` in the package's source, with whether it checks a permission. */
function routesInSource(): Array<{ method: string; pattern: string; guarded: boolean }> {
  const out: Array<{ method: string; pattern: string; guarded: boolean }> = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) {
        const src = fs.readFileSync(p, 'utf8');
        for (const m of src.matchAll(/httpAdmin\.(get|post|put|delete)\(\s*'([^']+)'\s*,([\s\S]*?)=>/g)) {
          out.push({
            method: m[1],
            pattern: m[2],
            guarded: /RED\.auth\.needsPermission\(|adminPermission\(RED, '[\w-]+\.(read|write)'\)/.test(m[3]),
          });
        }
      }
    }
  };
  walk(path.join(root, 'nodes'));
  return out;
}

describe('admin HTTP routes with adminAuth (real Node-RED process)', function () {
  this.timeout(60000);
  let red: NodeRedProcess;
  let userDir: string;

  before(async () => {
    userDir = makeUserDir('rule-engine-auth-');
    // Users checked by a function, so no password hash is needed in the test.
    fs.writeFileSync(
      path.join(userDir, 'settings.js'),
      `const users = { admin: { password: 'admin-pass', permissions: '*' }, reader: { password: 'reader-pass', permissions: 'read' } };
module.exports = {
  flowFile: 'flows.json',
  uiHost: '127.0.0.1',
  credentialSecret: false,
  logging: { console: { level: 'info' } },
  adminAuth: {
    type: 'credentials',
    users: async (username) => (users[username] ? { username, permissions: users[username].permissions } : null),
    authenticate: async (username, password) =>
      users[username] && users[username].password === password ? { username, permissions: users[username].permissions } : null,
  },
};
`,
    );
    fs.writeFileSync(path.join(userDir, 'flows.json'), '[]');
    red = new NodeRedProcess(userDir, await freePort());
    await red.start();
  });

  after(async () => {
    await red?.stop();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  async function token(username: string, password: string, scope: string): Promise<string> {
    const res = await fetch(red.url('/auth/token'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: 'node-red-admin', grant_type: 'password', scope, username, password }),
    });
    assert.equal(res.status, 200, `login of ${username}`);
    return ((await res.json()) as { access_token: string }).access_token;
  }

  async function call(r: Route, bearer?: string): Promise<number> {
    const res = await fetch(red.url(r.path), {
      method: r.method.toUpperCase(),
      headers: {
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        ...(r.body ? { 'content-type': 'application/json' } : {}),
      },
      body: r.body ? JSON.stringify(r.body) : undefined,
    });
    await res.arrayBuffer();
    return res.status;
  }

  it('lists every route the source registers, and each one checks a permission', () => {
    const found = routesInSource();
    assert.ok(found.length > 0, 'no admin routes found in the source: the pattern is out of date');
    for (const f of found) {
      assert.ok(
        f.guarded,
        `${f.method.toUpperCase()} ${f.pattern} checks no permission (RED.auth.needsPermission or adminPermission)`,
      );
      assert.ok(
        ROUTES.some((r) => r.method === f.method && r.pattern === f.pattern),
        `${f.method.toUpperCase()} ${f.pattern} is not covered by this test`,
      );
    }
  });

  it('POST /rule-engine/import/thingsboard: the flow and the report for an admin, 400 with the reason for a bad export', async () => {
    const bearer = await token('admin', 'admin-pass', '*');
    const post = (body: unknown) =>
      fetch(red.url('/rule-engine/import/thingsboard'), {
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const ok = await post({ ruleChain: { name: 'chain.json', text: fs.readFileSync(TUTORIAL_CHAIN, 'utf8') } });
    assert.equal(ok.status, 200);
    const result = (await ok.json()) as { flow: Array<{ type: string }>; report: { notMapped: string[] } };
    assert.ok(result.flow.some((n) => n.type === 'tab'));
    assert.ok(result.flow.some((n) => n.type === 'rule-msg-type-switch'));
    assert.equal(result.report.notMapped.length, 1, result.report.notMapped.join('\n'));
    assert.match(result.report.notMapped[0], /TbDuplicateMsgToGroupNode/);
    for (const [body, reason] of [
      [{ ruleChain: { name: 'chain.json', text: '{ not json' } }, /chain\.json/],
      [{}, /ruleChain: expected \{name, text\}/],
      [{ ruleChain: { name: 'c.json', text: '{}' }, converters: 'x' }, /converters: expected a list/],
    ] as const) {
      const res = await post(body);
      assert.equal(res.status, 400);
      assert.match(((await res.json()) as { error: string }).error, reason);
    }
  });

  for (const r of ROUTES) {
    it(`${r.method.toUpperCase()} ${r.pattern}: 401 without a token`, async () => {
      assert.equal(await call(r), 401);
    });
    it(`${r.method.toUpperCase()} ${r.pattern}: ${r.write ? '403' : '200'} for a read-only user`, async () => {
      assert.equal(await call(r, await token('reader', 'reader-pass', 'read')), r.write ? 403 : 200);
    });
    it(`${r.method.toUpperCase()} ${r.pattern}: 200 for an admin`, async () => {
      assert.equal(await call(r, await token('admin', 'admin-pass', '*')), 200);
    });
  }
});
