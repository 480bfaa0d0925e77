import { watch, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'
import { ChurnScorer } from './artifact.ts'
import type { Logger } from '../logging/index.ts'

/**
 * Holds the model in use and swaps in a new one when its file changes or on SIGHUP. A request
 * reads `current` once, so it finishes on the model it started with; a file that does not load
 * leaves the old model serving.
 */
export class ModelHolder {
  current: ChurnScorer
  readonly path: string
  readonly #log: Logger
  #watcher: FSWatcher | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  readonly #onHup = (): void => { this.reload('SIGHUP') }
  reloads = 0

  constructor (path: string, log: Logger) {
    this.path = path
    this.#log = log
    this.current = ChurnScorer.fromFile(path)
  }

  /** Loads the file again; true when a new model now serves. */
  reload (why: string): boolean {
    try {
      const next = ChurnScorer.fromFile(this.path)
      const previous = this.current.version
      this.current = next
      this.reloads++
      this.#log.info({ previous, current: next.version, why }, `Model reloaded: ${next.version}`)
      return true
    } catch (error) {
      this.#log.error({ err: error, why }, `Model reload failed; still serving ${this.current.version}`)
      return false
    }
  }

  /** Watches the model's folder (a rename into place is how artifacts are written) and listens for SIGHUP. */
  watch (): void {
    const name = basename(this.path)
    this.#watcher = watch(dirname(this.path), (_event, file) => {
      if (file !== name) return
      // Editors and copies write in several steps: wait for the dust to settle.
      if (this.#timer !== undefined) clearTimeout(this.#timer)
      this.#timer = setTimeout(() => { this.reload('file changed') }, 100)
    })
    process.on('SIGHUP', this.#onHup)
  }

  close (): void {
    this.#watcher?.close()
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    process.off('SIGHUP', this.#onHup)
  }
}
