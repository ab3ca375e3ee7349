import type { Plugin } from '@hapi/hapi';
export const boxDavPlugin: Plugin<void> = { name: 'box-dav', register() {} };
