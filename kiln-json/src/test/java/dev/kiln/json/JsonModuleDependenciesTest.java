package dev.kiln.json;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/**
 * kiln-json only maps domain records to Jackson trees: both the store and the node protocol use it, so it must not
 * reach into either, nor do I/O of its own.
 */
class JsonModuleDependenciesTest {
    private final JavaClasses json = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("dev.kiln.json");

    @Test
    void dependsOnlyOnTheDomainAndJackson() {
        classes().should().onlyDependOnClassesThat().resideInAnyPackage(
                        "dev.kiln.json..", "dev.kiln.core..", "tools.jackson..", "java.lang..", "java.util..")
                .check(json);
    }
}
