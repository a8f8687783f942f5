"""The admin's Flask blueprint, on its own so that the page modules can register on it without
importing the package that imports them."""
from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")
