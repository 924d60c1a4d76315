// Release and protocol versions of the shim.

/* global __P2P_VERSION__ */

/**
 * The release version, injected by build.mjs through esbuild's `define`;
 * "dev" when the source runs unbundled (tests).
 * @type {string}
 */
export const VERSION = typeof __P2P_VERSION__ === 'string' ? __P2P_VERSION__ : 'dev';

/**
 * The peer-protocol version (engine/identity.ProtocolVersion). Peers of
 * different protocol versions never meet: it is part of the swarm key.
 * @type {number}
 */
export const PROTOCOL_VERSION = 1;
