import test from 'ava';
import { MessageMac, type MacBinding } from '../../src/transport/message-mac.js';

const secret = { source: 'test', key: Buffer.from('a test secret of enough bytes') };
const binding: MacBinding = { serverNonce: 'a'.repeat(32), clientNonce: 'b'.repeat(32), from: 1, to: 2 };

function pair(b: MacBinding = binding): { connector: MessageMac; server: MessageMac } {
  return { connector: new MessageMac(secret, b, 'connector'), server: new MessageMac(secret, b, 'server') };
}

test('message MAC: lines sealed by one end open at the other, unchanged, both ways and in order', (t) => {
  const { connector, server } = pair();
  const lines = ['{"type":"accept","from":1,"value":"payment=100"}', '{}', '{"v":"ünïcödé ✓"}', '{"type":"ping"}'];
  for (const l of lines) t.is(server.open(connector.seal(l)), l);
  for (const l of lines) t.is(connector.open(server.seal(l)), l);
  const sealed = connector.seal(lines[0]!);
  t.deepEqual(JSON.parse(sealed).type, 'accept', 'a sealed line is still one JSON object');
});

test('message MAC: an altered, replayed, reordered, reflected or other-connection line fails', (t) => {
  const line = '{"type":"accept","from":1,"value":"payment=100"}';
  {
    const { connector, server } = pair();
    const altered = connector.seal(line).replace('payment=100', 'payment=999');
    t.is(server.open(altered), null, 'altered');
  }
  {
    const { connector, server } = pair();
    const first = connector.seal(line);
    t.is(server.open(first), line);
    t.is(server.open(first), null, 'replayed');
  }
  {
    const { connector, server } = pair();
    const a = connector.seal('{"n":1}');
    const b = connector.seal('{"n":2}');
    t.is(server.open(b), null, 'reordered (or a dropped line then the next)');
    void a;
  }
  {
    const { connector } = pair();
    const fromMe = connector.seal(line);
    t.is(connector.open(fromMe), null, 'reflected back to its sender');
  }
  {
    const one = pair();
    const other = pair({ ...binding, clientNonce: 'c'.repeat(32) });
    t.is(other.server.open(one.connector.seal(line)), null, 'from another connection');
  }
  {
    const { server } = pair();
    t.is(server.open(line), null, 'no MAC at all');
    t.is(server.open(`${line.slice(0, -1)},"hmac":"${'z'.repeat(64)}"}`), null, 'a malformed MAC');
  }
});
