self.importScripts('{{CDN}}/p2p-sw.js');
