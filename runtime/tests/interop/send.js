#!/usr/bin/env node
// Direction 1 of runtime/tests/transport_interop_node.rs: node-hl7-client (an MLLP client this
// project did not write) sends messages to an MLLP listener and reports what it sent and what it
// got back, one JSON object per line on stdout.
//
//   node send.js PORT DIR
//
// DIR holds one message per file, sent in file-name order over one connection, each after the
// ACK of the one before. Lines printed:
//   {"event":"connected"}
//   {"event":"refused","index":I,"error":"..."}     the library would not build the message
//   {"event":"sent","index":I,"msh10":"..."|null,"bytes":"<hex of the frame content>"}
//   {"event":"ack","index":I,"raw":"<hex of the response as the client handed it over>",
//    "msa1":"..","msa2":".."}
//   {"event":"error","error":"..."}                  then exit status 2
//   {"event":"done","sent":N,"acked":N}
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { Batch, Client, FileBatch, Message, isBatch, isFile } = require('node-hl7-client');

// One byte per character both ways, so the file's bytes are the bytes on the wire.
const ENCODING = 'latin1';
const CONNECT_TIMEOUT_MS = 60_000;
const ACK_TIMEOUT_MS = 60_000;

function emit(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

// The last line, then exit once stdout has taken everything (a pipe may hold writes back).
function finish(code, obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`, () => process.exit(code));
}

// What the library itself does with a text it is handed (node-hl7-server's dispatch too).
function build(text) {
  if (isFile(text)) return new FileBatch({ text });
  if (isBatch(text)) return new Batch({ text });
  return new Message({ text });
}

function within(ms, promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function main() {
  const [portArg, dir] = process.argv.slice(2);
  const port = Number(portArg);
  if (!Number.isInteger(port) || typeof dir !== 'string') {
    throw new Error('usage: node send.js PORT DIR');
  }
  const files = fs.readdirSync(dir).sort();

  // connectionTimeout 0 (the default): no reconnection behind our back.
  const client = new Client({ host: '127.0.0.1' });
  // The connection's events settle one awaited step at a time: its 'connect', then each ACK.
  // An error, or an ACK nobody waits for, fails the run.
  let failure = null;
  let waiting = null;
  const next = () => new Promise((resolve, reject) => {
    if (failure) reject(failure);
    else waiting = { resolve, reject };
  });
  const settle = (value) => {
    if (!waiting) return fail(new Error('response while no message was waiting for one'));
    const w = waiting;
    waiting = null;
    w.resolve(value);
  };
  const fail = (e) => {
    failure = failure || (e instanceof Error ? e : new Error(String(e)));
    if (waiting) waiting.reject(failure);
    waiting = null;
  };
  let lastRaw = null;
  const connected = next();
  const connection = client.createConnection({ port, encoding: ENCODING }, async (res) => settle(res));
  connection.on('data.raw', (raw) => {
    lastRaw = raw;
  });
  connection.on('data.error', fail);
  connection.on('client.error', fail);
  // Send only once connected: sendMessage() before that queues the message and opens a second
  // connection of its own.
  connection.once('connect', () => settle());
  await within(CONNECT_TIMEOUT_MS, connected, 'connect');
  emit({ event: 'connected' });

  let sent = 0;
  let acked = 0;
  for (let index = 0; index < files.length; index++) {
    const text = fs.readFileSync(path.join(dir, files[index])).toString(ENCODING);
    let message;
    try {
      message = build(text);
    } catch (e) {
      emit({ event: 'refused', index, error: String(e.message) });
      continue;
    }
    const msh10 = message instanceof Message ? message.get('MSH.10').toString() : null;
    // Connection.sendMessage() writes <VT> + Buffer.from(message.toString(), encoding) + <FS><CR>.
    const bytes = Buffer.from(message.toString(), ENCODING);
    emit({ event: 'sent', index, msh10, bytes: bytes.toString('hex') });
    lastRaw = null;
    const response = next();
    // One message in flight: sendMessage() while an ACK is awaited would also open a new
    // connection, so the next message goes only after this one's ACK.
    await connection.sendMessage(message);
    sent++;
    const res = await within(ACK_TIMEOUT_MS, response, `ACK of message ${index}`);
    const ack = res.getMessage();
    acked++;
    emit({
      event: 'ack',
      index,
      // The receive side decodes as UTF-8 whatever the encoding option says.
      raw: Buffer.from(lastRaw === null ? '' : lastRaw, 'utf8').toString('hex'),
      msa1: ack.get('MSA.1').toString(),
      msa2: ack.get('MSA.2').toString(),
    });
  }
  await connection.close();
  if (failure) throw failure;
  finish(0, { event: 'done', sent, acked });
}

main().catch((e) => finish(2, { event: 'error', error: String(e && e.message ? e.message : e) }));
