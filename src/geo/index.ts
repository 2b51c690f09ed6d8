/**
 * Places on the Earth, with no knowledge of models, SQL, the store or HTTP: georeferencing
 * (GeoTIFF tags, world files), CRS transforms (proj4 + EPSG definitions), footprints, tiling
 * plans, place predicates, and GeoJSON / GeoParquet / Parquet / CSV writers and STAC reading.
 */
export type { PixelWindow } from './window.js';
export { windowIoU, windowInside } from './window.js';
export type { GeoTransform } from './geotransform.js';
export { pixelToCrs, crsToPixel, isNorthUp } from './geotransform.js';
export type { Crs, LonLat, LonLatTransform } from './crs.js';
export { crsFromEpsg, crsFromWkt, crsFromProj4, parseCrs, lonLatTransform } from './crs.js';
export type { Georeference } from './georeference.js';
export type { GeoTiffGeoTags, GeoTiffGeoreferenceReading } from './geotiff-georeference.js';
export { georeferenceFromGeoTiff, readGeoTiffGeoreference, geoTransformFromTags, gcpsFromTags, crsFromGeoKeys } from './geotiff-georeference.js';
export type { GroundControlPoint, GcpFit, GcpFitResiduals } from './gcp-fit.js';
export { fitAffineToGcps, GCP_RESIDUAL_TOLERANCE_PIXELS } from './gcp-fit.js';
export type { WorldFileOptions } from './world-file.js';
export { worldFileCandidates, parseWorldFile, findWorldFile, readWorldFileGeoreference } from './world-file.js';
export type { AreaGeometry, BBox, LonLatBox, MultiPolygon, Polygon, Position, Ring } from './geojson-types.js';
export { polygonsOf } from './geojson-types.js';
export { geometryBoxes, boxesToBBox, normalizeLon } from './lonlat-ring.js';
export type { WindowPlace, FootprintOptions } from './footprint.js';
export { placeOfWindow, geodesicDistance } from './footprint.js';
export type { TileMode, TilingOptions, PlannedWindow } from './tiling.js';
export { DEFAULT_OVERLAP, parseTileMode, parseScales, planWindows, shouldTile, axisOffsets, tilingSignature } from './tiling.js';
export type { Place, CompiledPlace } from './place.js';
export { bboxPlace, parseBboxPlace, nearPlace, parseNearPlace, parseDistance, withinPlace, readWithinPlace, placeQueryBoxes, compilePlace, footprintMatchesPlace } from './place.js';
export type { ExportRow, ExportWindow, RowWriter } from './export-row.js';
export { geometryToWkb, geometryToWkt } from './wkb.js';
export type { GeoJsonFeature, GeoJsonOptions } from './geojson-writer.js';
export { featureCollection, rowToFeature, rfc7946Orientation, createGeoJsonWriter } from './geojson-writer.js';
export type { ParquetExportOptions, FieldColumnType } from './parquet-writer.js';
export { createParquetWriter } from './parquet-writer.js';
export type { CsvExportOptions } from './csv-writer.js';
export { createCsvWriter, CSV_COLUMNS } from './csv-writer.js';
export type { ExportFormat, ExportOptions } from './export-format.js';
export { EXPORT_FORMATS, parseExportFormat, createRowWriter, writeRows } from './export-format.js';
export type { StacAsset, StacItemRecord, StacReadOptions } from './stac.js';
export { readStac } from './stac.js';
