// The umbrella module: `import Myelin` brings in the whole library.
@_exported import MyelinCore
@_exported import MyelinIO
