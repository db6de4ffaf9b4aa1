// `node --import <this file> …` records every module the process loads (one URL a line) in the
// file named by SGL_IMPORT_LOG: the real import graph of one run, for the architecture test.
import { register } from 'node:module';

register(new URL('./hooks.mjs', import.meta.url));
