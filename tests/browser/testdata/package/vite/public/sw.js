self.importScripts('/p2p/p2p-sw.js');
