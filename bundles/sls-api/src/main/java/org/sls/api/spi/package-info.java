/** SLS public API (spi). Semantically versioned; the only exported packages of SLS. */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.1.0")
package org.sls.api.spi;
