// bt-tracker.mjs runs bittorrent-tracker (the WebTorrent project's tracker) as
// a WebSocket-only tracker on 127.0.0.1 for the Go interop tests.
//
// Usage: node bt-tracker.mjs [port]
//
// It listens on the given port (default: an ephemeral one), prints
// "LISTENING <port>" on a line of its own on stdout once it accepts
// connections, logs warnings on stderr, and exits when its stdin closes.
import Server from 'bittorrent-tracker/server'

const port = Number(process.argv[2] ?? 0)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`bt-tracker: bad port ${JSON.stringify(process.argv[2])}`)
  process.exit(2)
}

const server = new Server({ udp: false, http: false, ws: true })

server.on('error', err => {
  console.error(`bt-tracker: error: ${err.message}`)
  process.exit(1)
})
server.on('warning', err => {
  console.error(`bt-tracker: warning: ${err.message}`)
})

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.ws.address().port}\n`)
})

// The tracker keeps no state worth saving, and open WebSocket connections
// would hold server.close() up: exit at once.
function stop () {
  process.exit(0)
}
process.stdin.on('end', stop)
process.stdin.on('close', stop)
process.stdin.on('error', stop)
process.stdin.resume()
