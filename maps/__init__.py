"""Folium renderers for gisgov's layers: GeoDataFrames in, HTML maps out."""
