// The umbrella module: `import Myelin` brings in the whole library.
@_exported import MyelinCore
@_exported import MyelinNN
@_exported import MyelinOptim
@_exported import MyelinData
@_exported import MyelinIO
@_exported import MyelinTrain
@_exported import MyelinModels
