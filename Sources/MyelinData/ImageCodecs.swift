import CPNG
import CJPEG
/// The image codec versions linked at run time (for diagnostics).
public var imageCodecVersions: String { "libpng \(String(cString: png_get_libpng_ver(nil))), libjpeg \(JPEG_LIB_VERSION)" }
