#!/usr/bin/env node
// Direction 2 of runtime/tests/transport_interop_node.rs: node-hl7-server (an MLLP server this
// project did not write) on 127.0.0.1, answering every message with its own `AA` ACK and
// reporting, one JSON object per line on stdout, what it received and what it answered.
//
//   node serve.js [PORT]        (no PORT or 0: a free port, printed first)
//
// Lines printed:
//   {"event":"listening","port":N}
//   {"event":"received","bytes":"<hex of the frame content>"}
//   {"event":"ack","msh10":"..","ack":"<hex of the ACK written, without MLLP bytes>"}
//   {"event":"error","error":"..."}          a message the server could not parse (no ACK sent)
//   {"event":"end"}                          stdin closed; the server exits
'use strict';

const { Server } = require('node-hl7-server');

function emit(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

// The last line, then exit once stdout has taken everything (a pipe may hold writes back).
function finish(code, obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`, () => process.exit(code));
}

const port = Number(process.argv[2] || 0);
const server = new Server({ bindAddress: '127.0.0.1' });
// latin1: one byte per character, so `data.raw` holds the received bytes unchanged.
const inbound = server.createInbound({ port, encoding: 'latin1' }, async (req, res) => {
  const message = req.getMessage();
  await res.sendResponse('AA');
  emit({
    event: 'ack',
    msh10: message.get('MSH.10').toString(),
    // SendResponse writes Buffer.from(ack.toString()), i.e. UTF-8.
    ack: Buffer.from(res.getAckMessage().toString(), 'utf8').toString('hex'),
  });
});
// The frame content as the server cut it out (after removing <VT> and <FS><CR>).
inbound.on('data.raw', (raw) => emit({ event: 'received', bytes: Buffer.from(raw, 'latin1').toString('hex') }));
inbound.on('data.error', (e) => emit({ event: 'error', error: String(e && e.message ? e.message : e) }));
inbound.on('error', (e) => {
  finish(2, { event: 'error', error: `listener: ${e && e.message ? e.message : e}` });
});
inbound.on('listen', () => {
  // The library keeps its net.Server in `_socket`; with port 0 this is how to learn the port.
  emit({ event: 'listening', port: inbound._socket.address().port });
});

// The test closes our stdin when it is done (or dies): then stop.
process.stdin.on('end', () => finish(0, { event: 'end' }));
process.stdin.resume();
