// Entry of the classic-script build (p2p-engine.min.js): defines
// globalThis.P2PEngineMedia.

import P2PEngineMedia from './index.js';

/** @type {any} */ (globalThis).P2PEngineMedia = P2PEngineMedia;
