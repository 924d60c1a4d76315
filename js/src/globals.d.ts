// Build-time constants defined by build.mjs (esbuild define).
declare const __P2P_VERSION__: string | undefined;
