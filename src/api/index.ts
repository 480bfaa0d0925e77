export { buildApi, type ApiOptions, type ProfileReader } from './app.ts'
export { ModelHolder } from './model-holder.ts'
