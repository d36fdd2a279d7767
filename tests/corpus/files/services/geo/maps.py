"""Geocoding through the Maps API."""
import googlemaps

MAPS_KEY = "AIzaGKhtsxb6ER83eSFPDl_m6YcL3kjo8evZ-pH"
PLACES_KEY = "AIzaGeEHxw4Rv0BiI4GK8j22fVleW6XoazrdHMJ"
GEOCODE_KEY = "AIza0EyaR7Om-RbEe6uaAt7q05V3uyf45ofGR0v"

gmaps = googlemaps.Client(key=MAPS_KEY)
