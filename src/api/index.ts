export { buildApi, type ApiOptions, type ProfileReader } from './app.ts'
