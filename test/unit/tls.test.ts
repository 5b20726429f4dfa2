// src/transport/tls.ts's pure parts: which name a certificate must hold, and
// what a TLS failure means, in words.

import test from 'ava';
import { refusedWhy, serverName, tlsFailure } from '../../src/transport/tls.js';

test('serverName: the name dialled; for an address, its endpoint name if that is a DNS name; else the address', (t) => {
  t.is(serverName(undefined, 'db1.example.com'), 'db1.example.com');
  t.is(serverName('peer1', 'db1.example.com'), 'db1.example.com');
  t.is(serverName('peer1', '127.0.0.2'), 'peer1');
  t.is(serverName('127.0.0.1:8080', '127.0.0.1'), '127.0.0.1');
  t.is(serverName('10.0.0.1', '10.0.0.1'), '10.0.0.1');
  t.is(serverName('not a name', '::1'), '::1');
});

test('tlsFailure: each kind of failure says what to do', (t) => {
  const err = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });
  t.regex(tlsFailure(err('ERR_TLS_CERT_ALTNAME_INVALID'), false, 'peer1'), /not for peer1/);
  t.regex(tlsFailure(err('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), false, 'peer1'), /not signed by a CA we trust/);
  t.regex(tlsFailure(err('SELF_SIGNED_CERT_IN_CHAIN'), false, 'peer1'), /--ca FILE must be the CA/);
  t.regex(tlsFailure(err('CERT_HAS_EXPIRED'), false, 'peer1'), /expired/);
  t.regex(tlsFailure(err('ERR_SSL_WRONG_VERSION_NUMBER'), false, 'peer1'), /does not speak TLS/);
  t.regex(tlsFailure(err('ECONNRESET'), false, 'peer1'), /does not speak TLS/);
  t.regex(tlsFailure(err('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'), true, 'peer1'), /refused our TLS certificate/);
  t.regex(refusedWhy({ type: 'refused', reason: 'tls_required' }), /it speaks TLS.*pass --ca FILE/);
  t.regex(refusedWhy({ type: 'refused', reason: 'tls_required' }, true), /connect\(\{ tls: \{ ca \} \}\)/);
  t.regex(refusedWhy({ type: 'refused', reason: 'certificate', why: 'no certificate' }), /refused us over TLS: no/);
});
