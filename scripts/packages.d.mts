// Types of scripts/packages.mjs, for test/Pack.test.ts.
export declare const root: string

export interface Published {
  readonly dir: string
  readonly name: string
  readonly manifest: Record<string, unknown>
}

export interface Packed extends Published {
  readonly tarball: string
  readonly size: number
  readonly unpackedSize: number
  readonly files: ReadonlyArray<string>
}

export declare const publishedPackages: () => Array<Published>
export declare const packAll: (destination: string) => Array<Packed>
export declare const sizeTable: (packed: ReadonlyArray<Packed>) => string
