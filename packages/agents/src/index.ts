export const AGENTS_VERSION = '0.1.0';
