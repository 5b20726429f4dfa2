import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { ROOT as root } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { ConfigError } from '../../src/config/errors.js';
import { loadCompose, toHostPath } from '../../src/runner/compose.js';

function project(yaml: string, files: Record<string, string> = { hostsfile: 'a:proposer1\nb:acceptor1\n' }): string {
  const dir = tempDir('compose');
  writeFileSync(path.join(dir, 'docker-compose.yml'), yaml);
  for (const [f, text] of Object.entries(files)) writeFileSync(path.join(dir, f), text);
  return dir;
}

test('testcase 2 compose: five services, hostnames, flags, and the mounted hostsfile', (t) => {
  const p = loadCompose(path.join(root, 'testcases/2'));
  t.deepEqual(
    p.services.map((s) => s.hostname),
    ['peer1', 'peer2', 'peer3', 'peer4', 'peer5'],
  );
  t.deepEqual(
    p.services.map((s) => s.label),
    ['peer1', 'peer2', 'peer3', 'peer4', 'peer5'],
  );
  const hostsfile = path.join(root, 'testcases/2/hostsfile');
  t.deepEqual(p.services[0]!.args, ['-h', hostsfile, '-v', 'X']);
  t.deepEqual(p.services[4]!.args, ['-h', hostsfile, '-v', 'Y', '-t', '10']);
  t.is(p.services[2]!.hostsfile, hostsfile);
});

test('a hostsfile mounted at any container path is found on the host', (t) => {
  const dir = project(`services:
  a:
    hostname: a
    volumes: ["./hostsfile:/etc/paxos/hostsfile:ro"]
    command: -h /etc/paxos/hostsfile -v "two words"
  b:
    volumes:
      - type: bind
        source: ./conf
        target: /conf
    command: ["--hostsfile=/conf/hosts", "--log-level", "info"]
`);
  const p = loadCompose(dir);
  t.deepEqual(p.services[0]!.args, ['-h', path.join(dir, 'hostsfile'), '-v', 'two words']);
  t.is(p.services[1]!.hostname, 'b', 'the service name when no hostname: is set');
  t.deepEqual(p.services[1]!.args, ['--hostsfile', path.join(dir, 'conf/hosts'), '--log-level', 'info']);
});

test('container paths map through the longest matching mount, relative to the workdir', (t) => {
  const mounts = [
    { source: '/host/all', target: '/app' },
    { source: '/host/hf', target: '/app/conf/hostsfile' },
  ];
  t.is(toHostPath('hostsfile', '/app', mounts, '/c', 'x'), '/host/all/hostsfile');
  t.is(toHostPath('conf/hostsfile', '/app', mounts, '/c', 'x'), '/host/hf');
  t.is(toHostPath('/app/conf/../hostsfile', '/', mounts, '/c', 'x'), '/host/all/hostsfile');
  t.is(
    toHostPath('hosts.txt', '/work', [], '/c', 'x'),
    '/c/hosts.txt',
    'an unmounted relative path is looked up next to the compose file',
  );
  t.throws(() => toHostPath('/etc/hostsfile', '/app', mounts, '/c', 'svc a: -h /etc/hostsfile'), {
    instanceOf: ConfigError,
    message:
      /svc a: -h \/etc\/hostsfile is under no volumes: mount; mount the file, e.g. \.\/hostsfile:\/etc\/hostsfile:ro/,
  });
});

test('compose problems are named: no file, no services, no -h, shell syntax', (t) => {
  t.throws(() => loadCompose('/nonexistent/dir'), { instanceOf: ConfigError, message: /no such testcase directory/ });
  t.throws(() => loadCompose(tempDir('empty')), { message: /no docker-compose.yml/ });
  t.throws(() => loadCompose(project('services: {}\n')), { message: /no services/ });
  t.throws(() => loadCompose(project('services:\n  a:\n    command: -v X\n')), {
    message: /service a: command: has no -h HOSTSFILE/,
  });
  t.throws(() => loadCompose(project('services:\n  a:\n    image: prj4\n')), { message: /service a: no command:/ });
  t.throws(() => loadCompose(project('services:\n  a:\n    command: -h hostsfile && rm -rf x\n')), {
    message: /shell syntax/,
  });
  t.throws(() => loadCompose(project('services: [\n')), { message: /not valid YAML/ });
});

test('the top-level docker-compose.yml and hostsfile are testcase 2', (t) => {
  for (const f of ['docker-compose.yml', 'hostsfile']) {
    t.is(readFileSync(path.join(root, f), 'utf8'), readFileSync(path.join(root, 'testcases/2', f), 'utf8'), f);
  }
});
