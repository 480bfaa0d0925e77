export {
  configFlags, describeConfig, Layers, loadConfig, redact, renderConfigTable, renderEnvExample,
  type Layer, type LoadConfigOptions, type LoadedConfig, type Source
} from './config.ts'
export { configKeys, configSchema, Sensitivity, type Config, type ConfigKey, type Setting } from './schema.ts'
