#!/usr/bin/env node
// Node >= 22.18 runs TypeScript by stripping types; the CLI ships as .ts sources.
import '../src/cli/main.ts';
