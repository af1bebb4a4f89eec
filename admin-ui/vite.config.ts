import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Served by infq itself at /admin/; `npm run dev` proxies the API to a local infq on :8080.
export default defineConfig({
  base: '/admin/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 1000 },
  server: {
    proxy: { '/admin/api': 'http://127.0.0.1:8080', '/health': 'http://127.0.0.1:8080' },
  },
});
