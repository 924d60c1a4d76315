self.importScripts('/dist/p2p-sw.js');
